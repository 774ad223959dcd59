"""immunetwin.twin."""
