"""Asynchronous Python SDK for the meetergo calendar-connection API."""
