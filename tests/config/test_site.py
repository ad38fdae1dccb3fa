"""What every page of the site gets without asking: an icon, and the job queues under the
name staff know them by."""

import struct
import zlib

import pytest

from config.roles import MANAGER, sync_roles


def test_the_icon_every_browser_asks_for_is_a_png_not_a_404(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "max-age=86400" in response["Cache-Control"]
    icon = response.content
    assert icon.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", icon[16:24])
    assert (width, height) == (32, 32)
    data = icon[icon.index(b"IDAT") + 4 : icon.index(b"IEND") - 8]
    assert len(zlib.decompress(data)) == 32 * (1 + 32 * 3)  # every row, whole
    assert client.post("/favicon.ico").status_code == 405


@pytest.mark.django_db
def test_the_job_queues_are_called_job_queues(client, make):
    sync_roles()
    client.force_login(make.user("mia", role=MANAGER))
    for url in ("/admin/", "/admin/inventory/location/"):  # the dashboard; the side menu
        page = client.get(url).content.decode()
        assert "Job queues" in page, url
        assert "Queues and jobs" in page, url
        for raw in ("Django_Rq", "Django-RQ", "DJANGO_RQ", "django_rq<"):
            assert raw not in page, (url, raw)
