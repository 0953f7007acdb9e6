"""Pure per-element logic: no Beam, no Google Cloud, no CLI imports (message contract, decoding,
typed predictions and rows, confirmation, explanation math, the exported-model contract)."""
