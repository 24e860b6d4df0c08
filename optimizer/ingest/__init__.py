"""The service layer: what the API and the simulator call to read and write the store."""
