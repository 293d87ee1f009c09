from fastapi import APIRouter


def router() -> APIRouter:
    return APIRouter()
