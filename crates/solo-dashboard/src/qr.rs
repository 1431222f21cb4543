//! QR codes, rendered by solo as inline SVG (no image service, no script).

use qrcode::QrCode;
use qrcode::render::svg;

/// An SVG of `text`, or None when it does not fit in a QR code.
pub(crate) fn svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(192, 192)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_otpauth_uri() {
        let svg =
            super::svg("otpauth://totp/solo%3Aann?secret=JBSWY3DPEHPK3PXP&issuer=solo").unwrap();
        assert!(svg.starts_with("<?xml") || svg.contains("<svg"), "{svg}");
        assert!(svg.contains("<path") || svg.contains("<rect"));
    }
}
