"""Local-runner adaptations: changes to Beam's own local runner (`BundleBasedDirectRunner`) that
only a job run on this machine needs, installed by the local entry point (`streaming.runner`,
when no `--runner` is given) and by nothing else.

* `firewatch.localrun.pubsub`: the Pub/Sub read acknowledges a message only once its row is
  written (Beam's local read acknowledges at once), with flow control and a clean drain.
* `firewatch.localrun.dofn_specs`: DoFn state specs looked up once per class, not per bundle.

Both replace private Beam internals in this process. Production code (the Beam transforms, the
core, the cloud clients, the job graphs Dataflow runs) never imports this package: an
import-linter contract in pyproject.toml forbids it. The sinks tell it about written rows through
`firewatch.beam.written`, a hook that has no listener on Dataflow.
"""
