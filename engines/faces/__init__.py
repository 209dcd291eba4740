"""Face models (dlib): the model folder's manifest and the one-lock detector/embedder."""
