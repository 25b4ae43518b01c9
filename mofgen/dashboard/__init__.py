"""Read-only web dashboard of mofgen campaigns (Flask app in :mod:`mofgen.dashboard.app`)."""
