"""HumanML3D (263-d) and KIT-ML (251-d) motion features: skeletons, layouts, conversions, normalization."""
