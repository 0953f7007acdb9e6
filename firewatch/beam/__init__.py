"""Beam wrappers around the core: sources, scoring (model handler, RunInference), confirmation,
explanation and sinks, shared by the streaming and batch jobs."""
