//! Keys and certificates for one testbed, generated fresh at every start.
//!
//! A CA signs the API server's serving certificate (for `127.0.0.1` and
//! `localhost`) and an admin client certificate in `system:masters`. A separate
//! key signs service-account tokens. Nothing here outlives the testbed's
//! directory.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its private key, PEM encoded.
#[derive(Debug)]
pub(crate) struct CertifiedKey {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

/// Everything the control plane's components need to trust each other.
#[derive(Debug)]
pub(crate) struct Pki {
    pub(crate) ca: CertifiedKey,
    pub(crate) serving: CertifiedKey,
    pub(crate) admin: CertifiedKey,
    /// Signs service-account tokens (kube-apiserver and kube-controller-manager).
    pub(crate) service_account_key_pem: String,
    /// Verifies them (kube-apiserver).
    pub(crate) service_account_public_pem: String,
}

impl Pki {
    pub(crate) fn generate() -> Result<Self, rcgen::Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "eshop testbed CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca = CertifiedKey {
            cert_pem: ca_cert.pem(),
            key_pem: ca_key.serialize_pem(),
        };
        let issuer = Issuer::new(ca_params, ca_key);

        let serving = sign(
            &issuer,
            CertificateParams::new(["127.0.0.1".to_owned(), "localhost".to_owned()])?,
            "kube-apiserver",
            None,
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let admin = sign(
            &issuer,
            CertificateParams::default(),
            "eshop-testbed-admin",
            Some("system:masters"),
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;

        let service_account = KeyPair::generate()?;
        Ok(Self {
            ca,
            serving,
            admin,
            service_account_key_pem: service_account.serialize_pem(),
            service_account_public_pem: service_account.public_key_pem(),
        })
    }
}

fn sign(
    issuer: &Issuer<'_, KeyPair>,
    mut params: CertificateParams,
    common_name: &str,
    organization: Option<&str>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<CertifiedKey, rcgen::Error> {
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if let Some(organization) = organization {
        params
            .distinguished_name
            .push(DnType::OrganizationName, organization);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}
