"""The bundled demo: a procedural motion dataset in HumanML3D layout, its small evaluator and demo generators.

- ``motions``     procedural clips on the HumanML3D skeleton (forward kinematics of angle programs)
- ``captions``    caption templates tagged ``word/POS`` like HumanML3D's texts
- ``dataset``     writes (and caches) the demo dataset folder
- ``evaluator_assets``  vocabulary, word vectors and sizes of the shipped demo evaluator (``assets/demo``,
  rebuilt by ``scripts/build_demo_assets.py``)
- ``generators``  demo "models": ground-truth resampling, noisy, jittery, mode-collapsed, caption-ignoring
- ``run``         ``run_demo``: evaluate every demo generator with the shipped evaluator (``motioneval demo``)
- ``export``      ``export_samples``: one demo generator's samples as a sample file, a sample folder and MDM's
  ``results.npy`` (``motioneval demo --export-samples``)
"""
