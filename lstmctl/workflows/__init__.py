"""The workflows: run, compare, diagnose, finalize, update; each chains the layers below."""
