"""HTTP front ends: the FastAPI app factory and one router per protocol."""
