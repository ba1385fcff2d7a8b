"""The daily drip: when each person's next text is due, and sending it exactly once."""
