"""The smallest FastAPI service, for the "hello" baseline (served by uvicorn like the
nodes are)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
