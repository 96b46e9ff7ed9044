// The single list of layers. Expanded by the model-spec parser, the generic gradient check
// and anything else that must know every layer. Adding a layer: its .h/.cpp + one line here.
// BS_LAYER(Class, "spec name")
BS_LAYER(Conv2d, "conv2d")
BS_LAYER(MaxPool2d, "maxpool2d")
BS_LAYER(Dense, "dense")
BS_LAYER(Relu, "relu")
BS_LAYER(Flatten, "flatten")
BS_LAYER(Dropout, "dropout")
