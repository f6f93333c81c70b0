"""The pages, in the lecture's order: the sidebar's links and the home page's list are made from this."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PAGES", "PageInfo"]


@dataclass(frozen=True)
class PageInfo:
    path: str  # file under pages/
    title_key: str
    icon: str

    @property
    def url(self) -> str:
        """The URL path Streamlit derives from the file name ("pages/4_Feature_maps.py" -> "Feature_maps")."""
        return self.path.removeprefix("pages/").removesuffix(".py").split("_", 1)[1]


PAGES: tuple[PageInfo, ...] = (
    PageInfo("pages/1_Image_as_data.py", "page.image", ":material/grid_on:"),
    PageInfo("pages/2_Convolution_and_pooling.py", "page.conv", ":material/filter_center_focus:"),
    PageInfo("pages/3_Architectures.py", "page.arch", ":material/account_tree:"),
    PageInfo("pages/4_Feature_maps.py", "page.features", ":material/layers:"),
    PageInfo("pages/5_Residual_gradients.py", "page.residual", ":material/alt_route:"),
    PageInfo("pages/6_SE_attention.py", "page.se", ":material/tune:"),
    PageInfo("pages/7_Detection.py", "page.detection", ":material/center_focus_strong:"),
    PageInfo("pages/8_Segmentation.py", "page.segmentation", ":material/texture:"),
    PageInfo("pages/9_Generation.py", "page.generation", ":material/brush:"),
    PageInfo("pages/10_Network_at_a_glance.py", "page.overview", ":material/view_timeline:"),
    PageInfo("pages/11_Many_images.py", "page.dataset", ":material/photo_library:"),
)
