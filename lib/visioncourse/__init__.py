"""visioncourse: the small, tested helpers of the course "Vision Beyond Classification".

Modules: ``runtime`` (device, mode, seeding), ``boxes`` (torchvision-style box ops),
``data`` (the shapes world), ``viz`` (drawing), ``train`` (a fit loop), ``metrics``,
``exercises`` (feedback for graded exercises), ``proposals`` (selective search), ``detection``
(warping regions, labelling proposals).
"""

__version__ = "0.1.0"
