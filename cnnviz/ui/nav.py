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
)
