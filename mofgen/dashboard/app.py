"""The dashboard's Flask application: HTML pages, JSON API and vendored JS, all read-only.

URLs (DESIGN §5): ``/`` campaigns, ``/campaigns/NAME``, ``/structures/ID`` (with
``/structures/ID.cif`` and ``.json`` downloads) and the same data as JSON under ``/api/``,
plus ``/api/campaigns/NAME/figures/ID`` for the figures a campaign's kind computes
(``/api/campaigns/NAME/phase-diagram`` for a crystal campaign's hull). What a campaign
and a structure page show beyond the generic numbers comes from the campaign's kind.
Unknown ids answer 404, malformed parameters 400; nothing answers 500 for bad input.
plotly.js comes from the installed ``plotly`` package and 3Dmol.js from
``mofgen/data/dashboard/vendor`` (npm ``3dmol``), so no page needs the internet.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, render_template, request, send_file

from mofgen.dashboard import queries as q
from mofgen.documents import jsonable
from mofgen.errors import InvalidInput, NotFound
from mofgen.export.cif import RELAXED
from mofgen.kinds import get_kind, kind_of
from mofgen.records import get_path
from mofgen.stores.connection import mask_uri

CHART_TTL_S = 30.0
THREEDMOL_ENV = "MOFGEN_3DMOL_JS"


def data_dir() -> Path:
    return Path(str(resources.files("mofgen") / "data" / "dashboard"))


def plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def threedmol_js() -> Path | None:
    """3Dmol.js: ``$MOFGEN_3DMOL_JS`` or the vendored copy (see the dashboard README)."""
    for candidate in (os.environ.get(THREEDMOL_ENV), data_dir() / "vendor" / "3Dmol-min.js"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(jsonable(data)), status=status, mimetype="application/json")


@functools.lru_cache(maxsize=512)
def smiles_svg(smiles: str) -> str | None:
    """A 2D depiction of a linker (RDKit, server side); ``None`` when RDKit cannot parse it."""
    try:
        from rdkit import Chem
        from rdkit.Chem.Draw import rdMolDraw2D
    except ImportError:
        return None
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    drawer = rdMolDraw2D.MolDraw2DSVG(260, 180)
    drawer.drawOptions().clearBackground = False
    drawer.DrawMolecule(mol)
    drawer.FinishDrawing()
    svg = drawer.GetDrawingText()
    return svg[svg.index("<svg"):]  # drop the XML declaration for inline use


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}") from None


def _table_args() -> dict[str, Any]:
    return {"sort": request.args.get("sort") or None, "order": request.args.get("order"),
            "page": _int_arg("page", 1), "per_page": _int_arg("per_page", 25),
            "after": request.args.get("after") or None}


def stage_numbers(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every stage's sub-document without bulky geometry, for the structure page: the
    stages of the document's kind in ladder order, then a rejection or failure."""
    out = {}
    for stage in (*(s.name for s in kind_of(doc).ladder), "rejection", "failure"):
        record = doc.get(stage)
        if isinstance(record, dict):
            out[stage] = {k: v for k, v in record.items() if k != "structure"}
    return out


def create_app(db, bind_host: str | None = None) -> Flask:
    """The dashboard over an open :class:`~mofgen.stores.connection.MofgenDB` (read-only).

    Requests must name this machine in their Host header (127.0.0.1, localhost, the bind
    address, or names the user allowed): a page of another site cannot reach it through
    DNS rebinding."""
    from mofgen.hostcheck import install_host_check

    root = data_dir()
    app = Flask("mofgen.dashboard", template_folder=str(root / "templates"),
                static_folder=str(root / "static"), static_url_path="/static")
    install_host_check(app, bind_host=bind_host)
    rdb = q.ReadOnlyDB(db)
    cache: dict[str, tuple[float, Any]] = {}
    lock = threading.Lock()
    app.jinja_env.filters["tojson_safe"] = lambda v: json.dumps(jsonable(v))
    app.jinja_env.filters["fmt"] = _fmt

    def cached(name: str, figure: str | None = None) -> Any:
        """Charts (``figure`` None) and figures, recomputed at most every ``CHART_TTL_S``."""
        key = f"{figure or ''}:{name}"
        with lock:
            hit = cache.get(key)
            if hit and time.monotonic() - hit[0] < CHART_TTL_S:
                return hit[1]
        data = (q.campaign_charts(rdb, name) if figure is None
                else jsonable(q.campaign_figure(rdb, name, figure)))
        with lock:
            cache[key] = (time.monotonic(), data)
        return data

    # ------------------------------------------------------------------ errors
    def _error(exc: Exception, status: int):
        if request.path.startswith("/api/"):
            return json_response({"error": str(exc), "status": status}, status)
        return render_template("error.html", message=str(exc), status=status), status

    app.register_error_handler(NotFound, lambda e: _error(e, 404))
    app.register_error_handler(InvalidInput, lambda e: _error(e, 400))
    for code in (404, 405):
        app.register_error_handler(code, lambda e: _error(
            Exception(getattr(e, "description", str(e))), e.code))

    # ------------------------------------------------------------------ vendored JS
    @app.get("/vendor/plotly.min.js")
    def vendor_plotly():
        return send_file(plotly_js(), mimetype="text/javascript", max_age=86400)

    @app.get("/vendor/3Dmol-min.js")
    def vendor_3dmol():
        path = threedmol_js()
        if path is None:
            abort(404)
        return send_file(path, mimetype="text/javascript", max_age=86400)

    # ------------------------------------------------------------------ pages
    @app.get("/")
    def index():
        return render_template("index.html", campaigns=q.campaigns_list(rdb),
                               db=mask_uri(rdb.target))

    @app.get("/campaigns/<name>")
    def campaign_page(name: str):
        summary = q.campaign_summary(rdb, name)
        table = q.top_structures(rdb, name, **_table_args())
        kind = get_kind(summary["kind"])
        plots = q.page_charts(q.campaign(rdb, name))
        figures = {p["id"]: cached(name, p["id"]) for p in plots if p["type"] == "figure"}
        return render_template("campaign.html", c=summary, table=table, plots=plots,
                               figures=figures, columns=q.table_columns(kind))

    @app.get("/structures/<doc_id>.cif")
    def structure_cif(doc_id: str):
        from mofgen.export.cif import cif_text, final_structure

        doc = q.structure_doc(rdb, doc_id)
        structure, _ = final_structure(doc)
        return Response(cif_text(structure, doc_id), mimetype="chemical/x-cif", headers={
            "Content-Disposition": f'attachment; filename="{doc_id}.cif"'})

    @app.get("/structures/<doc_id>.json")
    def structure_json(doc_id: str):
        doc = q.structure_doc(rdb, doc_id)
        doc.pop("lock", None)
        response = json_response(doc)
        response.headers["Content-Disposition"] = f'attachment; filename="{doc_id}.json"'
        return response

    @app.get("/structures/<doc_id>")
    def structure_page(doc_id: str):
        doc = q.structure_doc(rdb, doc_id)
        card = kind_of(doc).card(doc)
        if card:
            card["molecules"] = [{**m, "svg": smiles_svg(m["smiles"]) if m.get("smiles")
                                  else None} for m in card.get("molecules") or []]
        lattice = doc["structure"]["lattice"]
        relaxed = get_path(doc, RELAXED)
        if isinstance(relaxed, dict) and isinstance(relaxed.get("lattice"), dict):
            lattice = relaxed["lattice"]  # what the CIF and the 3D view show
        return render_template(
            "structure.html", doc=doc, card=card, stages=stage_numbers(doc),
            history=doc.get("history", []), nsites=len(doc["structure"]["sites"]),
            lattice=lattice, has_3dmol=threedmol_js() is not None,
        )

    # ------------------------------------------------------------------ JSON API
    @app.get("/api/campaigns")
    def api_campaigns():
        return json_response({"campaigns": q.campaigns_list(rdb)})

    @app.get("/api/campaigns/<name>")
    def api_campaign(name: str):
        return json_response(q.campaign_summary(rdb, name))

    @app.get("/api/campaigns/<name>/charts")
    def api_charts(name: str):
        return json_response(cached(name))

    @app.get("/api/campaigns/<name>/figures/<figure>")
    def api_figure(name: str, figure: str):
        return json_response(cached(name, figure))

    @app.get("/api/campaigns/<name>/phase-diagram")
    def api_phase_diagram(name: str):
        return json_response(cached(name, "phase-diagram"))

    @app.get("/api/campaigns/<name>/structures")
    def api_table(name: str):
        return json_response(q.top_structures(rdb, name, **_table_args()))

    @app.get("/api/structures/<doc_id>")
    def api_structure(doc_id: str):
        doc = q.structure_doc(rdb, doc_id)
        doc.pop("lock", None)
        return json_response(doc)

    return app


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if math.isfinite(value) else "–"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def serve(db, host: str = "127.0.0.1", port: int = 8050, threads: int = 4) -> None:
    """Serve with waitress when installed (production WSGI), else Werkzeug's threaded server."""
    app = create_app(db, bind_host=host)
    try:
        from waitress import serve as waitress_serve
    except ImportError:
        from werkzeug.serving import run_simple

        run_simple(host, port, app, threaded=True, use_reloader=False)
        return
    waitress_serve(app, host=host, port=port, threads=threads)


__all__ = ["create_app", "jsonable", "serve", "smiles_svg"]
