"""The certificate as a PDF (reportlab), in the layout of 民政部《志愿服务记录与证明出具办法》: title, the
volunteer and their masked ID number, the period and total hours, the activities, the issuing
organisation and date, and the verification code with its QR code.

The document is an official Chinese form, so it is printed in Chinese whatever the page language. A
CJK TrueType font is embedded (a subset); reportlab's CID fonts (STSong-Light) are not embedded and
show as boxes on phones without that font, so they are not used. The PDF is made in reportlab's
invariant mode (no creation time, fixed document id): the same certificate gives the same bytes,
so a download can be checked against the digest recorded at issue."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import date

import qrcode
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT_NAME = "AixinCJK"
# TrueType-outline CJK fonts reportlab can embed, first found wins (CERTIFICATE_FONT overrides).
# Debian: fonts-wqy-microhei, fonts-wqy-zenhei, fonts-arphic-uming. (Noto CJK ships CFF outlines,
# which reportlab cannot embed.)
FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


class FontMissing(RuntimeError):
    """No CJK TrueType font on this machine: install fonts-wqy-microhei (or set CERTIFICATE_FONT)."""


def find_font(extra: str | None = None) -> str:
    for path in ([extra] if extra else []) + list(FONT_PATHS):
        if path and os.path.isfile(path):
            return path
    raise FontMissing(
        "No CJK TrueType font found for certificates; install Debian's fonts-wqy-microhei "
        f"or set CERTIFICATE_FONT to a .ttf/.ttc file (looked in: {', '.join(FONT_PATHS)})"
    )


def _register_font(path: str) -> None:
    try:
        pdfmetrics.getFont(FONT_NAME)
    except KeyError:
        pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))


@dataclass(frozen=True)
class Line:
    day: date
    title: str
    place: str
    minutes: int


@dataclass(frozen=True)
class Content:
    code: str  # grouped for people, e.g. 7KQ2M-XR4TB
    holder_name: str
    holder_id_masked: str | None
    issuer_name: str
    period_from: date
    period_to: date
    total_minutes: int
    lines: list[Line]
    issued_on: date  # Beijing
    verify_url: str


def hours(minutes: int) -> str:
    """Minutes as hours, to two decimals at most: 150 → "2.5", 120 → "2", 20 → "0.33"."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".") if minutes else "0"


def _cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _qr_png(url: str) -> bytes:
    img = qrcode.make(url, border=2, box_size=8).get_image().convert("L")
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def render(content: Content, font_path: str | None = None) -> bytes:
    _register_font(find_font(font_path))
    base = ParagraphStyle("cert", fontName=FONT_NAME, fontSize=11, leading=18, wordWrap="CJK")
    title = ParagraphStyle("title", parent=base, fontSize=22, leading=30, alignment=TA_CENTER, spaceAfter=6 * mm)
    small = ParagraphStyle("small", parent=base, fontSize=9, leading=13)
    cell = ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13)

    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    story: list = [Paragraph("志愿服务记录证明", title)]
    story.append(Paragraph(f"证明编号（验证码）：{content.code}", small))
    story.append(Spacer(1, 4 * mm))
    story.append(
        Paragraph(
            f"兹证明 <b>{esc(content.holder_name)}</b>（身份证号：{esc(content.holder_id_masked or '未登记')}）"
            f"于 {_cn_date(content.period_from)} 至 {_cn_date(content.period_to)} 期间"
            f"参加志愿服务 {len(content.lines)} 次，"
            f"累计志愿服务时长 <b>{hours(content.total_minutes)}</b> 小时。具体记录如下：",
            base,
        )
    )
    story.append(Spacer(1, 4 * mm))
    rows: list[list] = [["序号", "服务日期", "服务项目", "服务地点", "服务时长（小时）"]]
    for i, line in enumerate(content.lines, 1):
        rows.append(
            [
                str(i),
                line.day.isoformat(),
                Paragraph(esc(line.title), cell),
                Paragraph(esc(line.place), cell),
                hours(line.minutes),
            ]
        )
    if not content.lines:
        rows.append(["—", "", Paragraph("本期间内无经审核确认的志愿服务记录", cell), "", "0"])
    rows.append(["合计", "", "", "", hours(content.total_minutes)])
    table = Table(rows, colWidths=[12 * mm, 24 * mm, 58 * mm, 48 * mm, 32 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
                ("FONTSIZE", (0, 0), (-1, -1), 9.5),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (0, 0), (1, -1), "CENTER"),
                ("ALIGN", (4, 0), (4, -1), "CENTER"),
                ("SPAN", (0, -1), (3, -1)),
            ]
        )
    )
    story.append(table)
    story.append(Spacer(1, 8 * mm))
    story.append(Paragraph(f"出具单位：{esc(content.issuer_name)}（盖章）", base))
    story.append(Paragraph(f"出具日期：{_cn_date(content.issued_on)}", base))
    story.append(Spacer(1, 6 * mm))
    qr = Image(io.BytesIO(_qr_png(content.verify_url)), width=32 * mm, height=32 * mm)
    check = Table(
        [
            [
                qr,
                Paragraph(
                    f"验证码：<b>{content.code}</b><br/>扫描二维码或访问以下网址核验本证明真伪：<br/>"
                    f"{esc(content.verify_url)}",
                    small,
                ),
            ]
        ],
        colWidths=[36 * mm, 138 * mm],
    )
    check.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story.append(check)
    story.append(Spacer(1, 4 * mm))
    story.append(
        Paragraph("本证明依据民政部《志愿服务记录与证明出具办法》出具，服务时长仅统计经组织者审核确认的记录。", small)
    )

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title="志愿服务记录证明",
        author=content.issuer_name,
        invariant=1,
    )
    doc.build(story)
    return out.getvalue()
