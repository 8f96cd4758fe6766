from rest_framework.pagination import PageNumberPagination


class PageNumbers(PageNumberPagination):
    """``?page=`` (from 1) and ``?page_size=`` (at most 200); every list is ordered down to its key."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
