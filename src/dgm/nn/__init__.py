"""Building blocks shared by models: MLPs, small conv nets, masked (autoregressive) layers, the LSTM update."""
