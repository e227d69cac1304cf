"""Alerts: tell people when the connector needs them (issue 14 §5; README "Alerts")."""
