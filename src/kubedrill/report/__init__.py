"""Allure steps and attachments, plots, environment and categories."""
