"""Herald: marketing automation engine. Domain code shared by the API, workflows and activities."""
