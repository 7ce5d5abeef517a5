"""What the dashboard's test modules share."""

TOKEN = "test-token-0123456789"  # the in-process app's; the real server makes its own
