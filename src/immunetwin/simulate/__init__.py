"""immunetwin.simulate."""
