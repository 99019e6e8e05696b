"""`mercato studio`: a local web server for runs, episodes turn by turn, play and studies.

Needs the ``studio`` extra (starlette, uvicorn, jinja2, python-multipart); nothing here is
imported by ``import sim``. ``create_app(StudioConfig(root=...))`` builds the ASGI app.
"""
