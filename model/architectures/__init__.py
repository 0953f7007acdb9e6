"""Network architectures and the backbone registry (`model.architectures.backbones.BACKBONES`): the one
place a backbone is declared; training, restore, the config's choices and the tuning space read it."""
