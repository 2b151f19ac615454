"""Credential sheets: a CSV, or a printable PDF with one card per account (organization,
username, password, sign-in URL and a QR code of the URL)."""
from __future__ import annotations

import io
from dataclasses import dataclass

from ..imports.report import csv_lines

CARDS_X, CARDS_Y = 2, 4   # 8 cards per A4 page, cut along the lines


@dataclass(frozen=True)
class Card:
    organization: str
    username: str
    password: str
    sign_in_url: str


def csv_sheet(cards: list[Card]) -> bytes:
    rows = [[c.organization, c.username, c.password, c.sign_in_url] for c in cards]
    return "".join(csv_lines(["organization", "username", "password", "sign_in_url"],
                             rows)).encode("utf-8")


def pdf_sheet(cards: list[Card], title: str) -> bytes:
    """A4 pages of cards; text is real text (copyable, and checkable by tests)."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    pdf.setTitle(title)
    page_w, page_h = A4
    margin = 10 * mm
    card_w = (page_w - 2 * margin) / CARDS_X
    card_h = (page_h - 2 * margin) / CARDS_Y
    per_page = CARDS_X * CARDS_Y
    qr_size = 28 * mm
    forms: dict[str, str] = {}
    for i, card in enumerate(cards):
        if i and i % per_page == 0:
            pdf.showPage()
        slot = i % per_page
        x = margin + (slot % CARDS_X) * card_w
        y = page_h - margin - (slot // CARDS_X + 1) * card_h
        pdf.setDash(3, 3)
        pdf.rect(x, y, card_w, card_h)
        pdf.setDash()
        tx, ty = x + 6 * mm, y + card_h - 12 * mm
        pdf.setFont("Helvetica-Bold", 12)
        pdf.drawString(tx, ty, card.organization[:40])
        pdf.setFont("Helvetica", 10)
        pdf.drawString(tx, ty - 10 * mm, "Username:")
        pdf.drawString(tx, ty - 20 * mm, "Password:")
        pdf.setFont("Courier-Bold", 12)
        pdf.drawString(tx + 20 * mm, ty - 10 * mm, card.username)
        pdf.drawString(tx + 20 * mm, ty - 20 * mm, card.password)
        pdf.setFont("Helvetica", 8)
        pdf.drawString(tx, y + 6 * mm, card.sign_in_url[:70])
        # Cards share the sign-in URL: draw its QR code once as a form XObject and place it on
        # every card (drawing ~600 module rectangles per card made 1,000 cards take 30 s).
        if card.sign_in_url not in forms:
            forms[card.sign_in_url] = name = f"qr{len(forms)}"
            qr = QrCodeWidget(card.sign_in_url, barLevel="M")
            x0, y0, x1, y1 = qr.getBounds()
            d = Drawing(qr_size, qr_size,
                        transform=[qr_size / (x1 - x0), 0, 0, qr_size / (y1 - y0), 0, 0])
            d.add(qr)
            pdf.beginForm(name, lowerx=0, lowery=0, upperx=qr_size, uppery=qr_size)
            renderPDF.draw(d, pdf, 0, 0)
            pdf.endForm()
        pdf.saveState()
        pdf.translate(x + card_w - qr_size - 4 * mm, y + 10 * mm)
        pdf.doForm(forms[card.sign_in_url])
        pdf.restoreState()
        pdf.setFont("Helvetica", 7)
        pdf.drawString(tx, y + 12 * mm, "Change this password when you first sign in.")
    if not cards:
        pdf.drawString(margin, page_h - margin, "No accounts.")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
