"""The networks that turn samples into features for the metrics; each module keeps its loader and cache.

`inception`: the FID Inception-v3 (TF graph of 2015-12-05) whose pool3 features give FID.
`i3d`: the Kinetics-400 I3D whose logits give FVD.
`digits`: a small MNIST classifier, the demo's accuracy judge and feature extractor.
`cifar_proxy`: a CIFAR-10 classifier the project trains itself, a labelled proxy for the
FID Inception where its weights cannot be had (classifier-feature Frechet distance, not FID).
`resize`: the two bilinear resizes to a network's input size, torch's and TF1's.
`weights`: the weight cache folder and the checks the loaders share.
"""
