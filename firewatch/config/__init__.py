"""Job configuration: pydantic configs mapped 1:1 to flags, pipeline options and flex-template parameters."""
