"""Durable jobs: the prediction store, the Huey queue, the runner and webhook delivery."""
