"""The Prefect flows: thin orchestration over the library (``addressing``), which never imports them."""
