"""The RIN network. It knows nothing about noise: it maps (x_t, gamma, label, Z') to (prediction, Z).

Shape legend used in comments throughout:
    B  batch            C  image channels      H, W  image height and width
    p  patch size       N  interface tokens = (H/p)(W/p)
    L  latents m, counting the time token and the class token
    Dx interface width d_x                     Dz latent width d_z
    F  frames per clip  k  given (context) frames  t  tubelet length (frames per 3-D patch)
"""

from rin.model.rin import RIN, count_parameters

__all__ = ["RIN", "count_parameters"]
