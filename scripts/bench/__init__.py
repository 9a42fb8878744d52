"""`make bench`: each figure of the platform beside a baseline measured in the same run.

    uv run python -m scripts.bench [--quick | --smoke] [--only api,e2e,webhooks]

See `__main__.py` for the phases and `bench/README.md` for what each figure means.
"""
