"""What every service process has in common: settings, the messaging runtime and the HTTP app."""
