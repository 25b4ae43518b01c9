"""Chemistry of the generate stage: linker processing, anchors, assembly, screening."""
