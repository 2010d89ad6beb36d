"""The real-format delivery of 梓潼县 (``delivery.py``), written once per session: clean and with
the planted defects."""

from __future__ import annotations

import pytest

from delivery import Delivery, build_delivery


@pytest.fixture(scope="session")
def clean_delivery(tmp_path_factory) -> Delivery:
    return build_delivery(tmp_path_factory.mktemp("zitong_clean"), defects=False)


@pytest.fixture(scope="session")
def defect_delivery(tmp_path_factory) -> Delivery:
    return build_delivery(tmp_path_factory.mktemp("zitong_defects"), defects=True)
