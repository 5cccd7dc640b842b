"""reports.save_figure: a print-quality PNG and a PDF twin, the same bytes when saved twice."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ntlib.results import reports  # noqa: E402


def test_save_figure_writes_png_at_200_dpi_and_a_reproducible_pdf(tmp_path):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    ax.set_title("switchboard, small, n = 2")
    png = reports.save_figure(fig, "toy", tmp_path)
    pdf = png.with_suffix(".pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"
    from PIL import Image
    with Image.open(png) as im:
        assert round(im.info["dpi"][0]) == 200
    first = pdf.read_bytes()
    reports.save_figure(fig, "toy", tmp_path)
    assert pdf.read_bytes() == first                         # no creation date: same bytes
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["toy.pdf", "toy.png"]
    plt.close(fig)
