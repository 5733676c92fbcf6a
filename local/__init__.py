"""Running Mumble on one machine: local stand-ins for MongoDB and AWS, sample legacy data, the demo."""
