"""The live dashboard (`orchestra web`): a FastAPI app, its live view of the agents, and the page it serves.

The only package that imports fastapi, starlette and uvicorn, and only when `orchestra web` runs.
"""
