"""immunetwin.inference."""
