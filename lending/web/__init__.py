"""The web UI's templates and static files; its page modules are in `lending.pages`."""
