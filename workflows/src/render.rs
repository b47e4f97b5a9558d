//! Rendering messages and pages from minijinja templates, in the reader's
//! language (English and French shipped; anything else falls back to
//! English). Templates are looked up in the site's directory first, so a
//! site overrides one by writing a file of the same name, then among the
//! shipped ones (`templates/` at the repository root, built in). Undefined
//! variables are errors, so a template mistake fails a test or a preview
//! instead of sending a blank message.

use std::path::PathBuf;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::answer::AnswerKind;
use crate::plan::Addressee;

/// The shipped templates, by file name.
const SHIPPED: &[(&str, &str)] = &[
    (
        "web-licences.html.j2",
        include_str!("../../templates/web-licences.html.j2"),
    ),
    (
        "web-whatif.html.j2",
        include_str!("../../templates/web-whatif.html.j2"),
    ),
    (
        "web-exceptions.html.j2",
        include_str!("../../templates/web-exceptions.html.j2"),
    ),
    (
        "web-audit.html.j2",
        include_str!("../../templates/web-audit.html.j2"),
    ),
    (
        "web-person.html.j2",
        include_str!("../../templates/web-person.html.j2"),
    ),
    (
        "web-layout.html.j2",
        include_str!("../../templates/web-layout.html.j2"),
    ),
    (
        "web-error.html.j2",
        include_str!("../../templates/web-error.html.j2"),
    ),
    (
        "web-fleet.html.j2",
        include_str!("../../templates/web-fleet.html.j2"),
    ),
    (
        "web-machines.html.j2",
        include_str!("../../templates/web-machines.html.j2"),
    ),
    (
        "web-machine.html.j2",
        include_str!("../../templates/web-machine.html.j2"),
    ),
    (
        "web-campaigns.html.j2",
        include_str!("../../templates/web-campaigns.html.j2"),
    ),
    (
        "web-campaign.html.j2",
        include_str!("../../templates/web-campaign.html.j2"),
    ),
    (
        "web-confirm.html.j2",
        include_str!("../../templates/web-confirm.html.j2"),
    ),
    (
        "web-me.html.j2",
        include_str!("../../templates/web-me.html.j2"),
    ),
    ("web.en.toml", include_str!("../../templates/web.en.toml")),
    ("web.fr.toml", include_str!("../../templates/web.fr.toml")),
    (
        "chat-digest.en.subject.j2",
        include_str!("../../templates/chat-digest.en.subject.j2"),
    ),
    (
        "chat-digest.en.txt.j2",
        include_str!("../../templates/chat-digest.en.txt.j2"),
    ),
    (
        "chat-digest.en.html.j2",
        include_str!("../../templates/chat-digest.en.html.j2"),
    ),
    (
        "chat-digest.fr.subject.j2",
        include_str!("../../templates/chat-digest.fr.subject.j2"),
    ),
    (
        "chat-digest.fr.txt.j2",
        include_str!("../../templates/chat-digest.fr.txt.j2"),
    ),
    (
        "chat-digest.fr.html.j2",
        include_str!("../../templates/chat-digest.fr.html.j2"),
    ),
    (
        "digest.en.subject.j2",
        include_str!("../../templates/digest.en.subject.j2"),
    ),
    (
        "digest.fr.subject.j2",
        include_str!("../../templates/digest.fr.subject.j2"),
    ),
    (
        "digest.en.txt.j2",
        include_str!("../../templates/digest.en.txt.j2"),
    ),
    (
        "digest.fr.txt.j2",
        include_str!("../../templates/digest.fr.txt.j2"),
    ),
    (
        "digest.en.html.j2",
        include_str!("../../templates/digest.en.html.j2"),
    ),
    (
        "digest.fr.html.j2",
        include_str!("../../templates/digest.fr.html.j2"),
    ),
    (
        "answer.en.html.j2",
        include_str!("../../templates/answer.en.html.j2"),
    ),
    (
        "exception.en.subject.j2",
        include_str!("../../templates/exception.en.subject.j2"),
    ),
    (
        "exception.en.txt.j2",
        include_str!("../../templates/exception.en.txt.j2"),
    ),
    (
        "exception.en.html.j2",
        include_str!("../../templates/exception.en.html.j2"),
    ),
    (
        "exception.fr.subject.j2",
        include_str!("../../templates/exception.fr.subject.j2"),
    ),
    (
        "exception.fr.txt.j2",
        include_str!("../../templates/exception.fr.txt.j2"),
    ),
    (
        "exception.fr.html.j2",
        include_str!("../../templates/exception.fr.html.j2"),
    ),
    (
        "answer.fr.html.j2",
        include_str!("../../templates/answer.fr.html.j2"),
    ),
];

/// Languages with shipped templates.
pub const LANGUAGES: [&str; 2] = ["en", "fr"];

/// The digest templates of chat channels (short, chat-safe HTML, with the
/// reply grammar instead of links).
pub const CHAT_DIGEST: &str = "chat-digest";

/// A rendering failure (a template error, with the template's name).
#[derive(Debug, thiserror::Error)]
#[error("template {name}: {source}")]
pub struct RenderError {
    /// Template file name.
    pub name: String,
    /// What went wrong (line included).
    #[source]
    pub source: minijinja::Error,
}

/// A rendered email or chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// Subject (one line).
    pub subject: String,
    /// The plain-text body (email's text part, the chat fallback).
    pub text: String,
    /// The HTML body (email's HTML part, Matrix's formatted body).
    pub html: String,
}

/// The template set of a site.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

/// What the answer page sees (`answer.*.html.j2`): one typed context that
/// the HTTP edge fills and [`Templates::check`] samples in every mode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PageContext {
    /// `confirm` (what a GET shows, with a form), `recorded` (after the
    /// POST) or `error` (nothing recorded).
    pub mode: &'static str,
    /// The page's title: the campaign's, or the product's on an error.
    pub title: String,
    /// The error (`error`), or what is wrong with the fields sent
    /// (`confirm`, shown above the form).
    pub message: Option<String>,
    /// The campaign's name.
    pub campaign: String,
    /// Hostnames the answer is for.
    pub machines: Vec<String>,
    /// The answer's word (`upgrade`, `exception`, `not_mine`...): the
    /// template shows the fields it needs.
    pub answer: &'static str,
    /// The answer in the reader's language.
    pub answer_label: &'static str,
    /// The answer needs a date.
    pub needs_date: bool,
    /// The date field's label in the reader's language.
    pub date_label: &'static str,
    /// The date given (`YYYY-MM-DD`), shown again when the form comes back.
    pub date: Option<String>,
    /// The justification or the owner's login given.
    pub detail: Option<String>,
    /// The comment given.
    pub comment: Option<String>,
}

/// A link offered for one answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerLink {
    /// The answer.
    pub answer: AnswerKind,
    /// Its label in the reader's language.
    pub label: String,
    /// The signed URL.
    pub url: String,
}

/// What a digest's templates see (`digest.*` and `chat-digest.*`): one
/// typed context that rendering fills and [`Templates::check`] samples, so
/// a variable the engine stops giving fails the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestContext {
    /// `email`, `matrix` or `mattermost`.
    pub channel: String,
    /// The reader.
    pub person: Addressee,
    /// One section per campaign.
    pub campaigns: Vec<CampaignContext>,
    /// Machines listed, over all campaigns.
    pub machines: usize,
    /// No machine is listed for the first time.
    pub reminder: bool,
    /// Every campaign is a licence campaign.
    pub licence_only: bool,
    /// The date the links stop working (the earliest of the campaigns').
    pub expires: String,
    /// A hostname to show the reply grammar with.
    pub example: String,
    /// A date to show the reply grammar with.
    pub example_date: String,
    /// The reader's personal link to "my machines" (`/me`), signed like the
    /// answer links and valid as long as they are; `None` without link keys.
    pub me_url: Option<String>,
}

/// One campaign's section of a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignContext {
    /// Short name.
    pub name: String,
    /// The campaign's title in the reader's language (its translation in
    /// the campaign file, else its `title`).
    pub title: String,
    /// Why, in the reader's language (likewise).
    pub description: String,
    /// `eol` or `licence`.
    pub kind: String,
    /// The applications of a licence campaign, joined.
    pub applications: String,
    /// Deadline (ISO date).
    pub deadline: String,
    /// The group asked, when the reader is asked as one of its members.
    pub group: Option<String>,
    /// The group asked is the campaign's fallback group (no known owner,
    /// or none who answers), not an owner's group escalated to.
    pub fallback: bool,
    /// The machines.
    pub machines: Vec<MachineContext>,
    /// Links answering for all the machines (none for a single machine).
    pub all_links: Vec<AnswerLink>,
}

/// One machine of a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineContext {
    /// Hostname.
    pub hostname: String,
    /// OS as reported.
    pub os: String,
    /// The matched OS release as people say it (`Windows 11 23H2 Enterprise`).
    pub cycle: Option<String>,
    /// End of life (ISO date).
    pub eol: Option<String>,
    /// The application of a licence campaign.
    pub application: Option<String>,
    /// The answer asked again, with its date (`upgrade by 2026-12-01`).
    pub reopened: Option<String>,
    /// When the application was last used (ISO date).
    pub last_used: Option<String>,
    /// Who passed the machine on with "not mine".
    pub passed_on_by: Option<String>,
    /// Links, one per answer.
    pub links: Vec<AnswerLink>,
}

/// What the exception notice's templates (`exception.*`) see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionNotice {
    /// The owner who asked.
    pub person: Addressee,
    /// The machine's hostname as last reported.
    pub host: String,
    /// The campaign's title, in the owner's language.
    pub campaign: String,
    /// Approved, else declined.
    pub approved: bool,
    /// Until when (ISO date).
    pub until: Option<String>,
    /// The admin's note.
    pub note: Option<String>,
    /// The admin who decided.
    pub decided_by: String,
}

/// An answer's label in a language.
pub fn answer_label(kind: AnswerKind, language: &str) -> &'static str {
    let fr = language == "fr";
    match (kind, fr) {
        (AnswerKind::Upgrade, false) => "Will upgrade",
        (AnswerKind::Upgrade, true) => "Sera mise à jour",
        (AnswerKind::Replace, false) => "Will replace",
        (AnswerKind::Replace, true) => "Sera remplacée",
        (AnswerKind::Decommission, false) => "Will decommission",
        (AnswerKind::Decommission, true) => "Sera retirée du service",
        (AnswerKind::Esu, false) => "Covered by paid extended updates",
        (AnswerKind::Esu, true) => "Couverte par un support étendu payant",
        (AnswerKind::Exception, false) => "Needs an exception",
        (AnswerKind::Exception, true) => "Demande une exception",
        (AnswerKind::NotMine, false) => "Not my machine",
        (AnswerKind::NotMine, true) => "Pas ma machine",
        (AnswerKind::Keep, false) => "Still needed",
        (AnswerKind::Keep, true) => "Toujours nécessaire",
        (AnswerKind::Uninstall, false) => "No longer needed: I will uninstall it",
        (AnswerKind::Uninstall, true) => "Plus nécessaire : je le désinstalle",
        (AnswerKind::Remove, false) => "No longer needed: please remove it",
        (AnswerKind::Remove, true) => "Plus nécessaire : merci de le retirer",
    }
}

/// The label of the date field an answer needs.
pub fn date_label(kind: AnswerKind, language: &str) -> &'static str {
    let fr = language == "fr";
    match (kind, fr) {
        (AnswerKind::Upgrade, false) => "Upgraded by",
        (AnswerKind::Upgrade, true) => "Mise à jour avant le",
        (AnswerKind::Esu, false) => "Covered until",
        (AnswerKind::Esu, true) => "Couverte jusqu'au",
        (AnswerKind::Uninstall, false) => "Uninstalled by",
        (AnswerKind::Uninstall, true) => "Désinstallé avant le",
        (_, false) => "Until",
        (_, true) => "Jusqu'au",
    }
}

/// The shipped language closest to a tag (`fr-CH` -> `fr`; unknown -> `en`).
pub fn language(tag: &str) -> &'static str {
    let base = tag.split(['-', '_']).next().unwrap_or("").to_lowercase();
    LANGUAGES.into_iter().find(|l| *l == base).unwrap_or("en")
}

impl Templates {
    /// The shipped templates, overridden by files in `site_dir` if given.
    pub fn new(site_dir: Option<PathBuf>) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html.j2") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.set_loader(move |name| {
            if let Some(dir) = &site_dir {
                // Only plain file names: a template name never walks out of the directory.
                if !name.contains(['/', '\\']) && !name.starts_with('.') {
                    match std::fs::read_to_string(dir.join(name)) {
                        Ok(text) => return Ok(Some(text)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(minijinja::Error::new(
                                minijinja::ErrorKind::InvalidOperation,
                                format!("cannot read {}: {e}", dir.join(name).display()),
                            ));
                        }
                    }
                }
            }
            Ok(SHIPPED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| (*t).to_string()))
        });
        Self { env }
    }

    fn render(&self, name: &str, ctx: &minijinja::Value) -> Result<String, RenderError> {
        let err = |source| RenderError {
            name: name.to_string(),
            source,
        };
        self.env
            .get_template(name)
            .map_err(err)?
            .render(ctx)
            .map_err(err)
    }

    /// Render the template `name` (a web page, or a page's strings file)
    /// with `ctx`; `.html.j2` templates escape what they print.
    pub fn render_named(&self, name: &str, ctx: &minijinja::Value) -> Result<String, RenderError> {
        self.render(name, ctx)
    }

    /// Render a message: `{base}.{lang}.subject.j2`, `.txt.j2` and `.html.j2`.
    pub fn message(
        &self,
        base: &str,
        lang: &str,
        ctx: &minijinja::Value,
    ) -> Result<Rendered, RenderError> {
        let lang = language(lang);
        let subject = self.render(&format!("{base}.{lang}.subject.j2"), ctx)?;
        Ok(Rendered {
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: self.render(&format!("{base}.{lang}.txt.j2"), ctx)?,
            html: self.render(&format!("{base}.{lang}.html.j2"), ctx)?,
        })
    }

    /// Render a digest from the templates `base` (`digest`, a site's own,
    /// or [`CHAT_DIGEST`]).
    pub fn digest(
        &self,
        base: &str,
        lang: &str,
        ctx: &DigestContext,
    ) -> Result<Rendered, RenderError> {
        self.message(
            base,
            lang,
            &minijinja::Value::from(minijinja::value::Serde(ctx)),
        )
    }

    /// Render the notice of an admin's decision on an exception request.
    pub fn exception_notice(
        &self,
        lang: &str,
        ctx: &ExceptionNotice,
    ) -> Result<Rendered, RenderError> {
        self.message(
            "exception",
            lang,
            &minijinja::Value::from(minijinja::value::Serde(ctx)),
        )
    }

    /// Render an answer page (`answer.{lang}.html.j2`).
    pub fn page(&self, lang: &str, ctx: &PageContext) -> Result<String, RenderError> {
        self.render(
            &format!("answer.{}.html.j2", language(lang)),
            &minijinja::Value::from(minijinja::value::Serde(ctx)),
        )
    }

    /// Check that every shipped message and page renders with sample data in
    /// every language (used at start-up and by `campaign create`, so a broken
    /// site override is found before anything is sent).
    pub fn check(&self, base: &str) -> Result<(), RenderError> {
        let link = AnswerLink {
            answer: AnswerKind::Upgrade,
            label: "Will upgrade".into(),
            url: "https://example.org/a/x".into(),
        };
        let person = Addressee {
            login: "jdoe".into(),
            name: "J. Doe".into(),
            email: Some("jdoe@example.org".into()),
            matrix_id: None,
            mattermost_username: None,
            language: "en".into(),
            time_zone: None,
        };
        let sample = |channel: &str| DigestContext {
            me_url: Some("https://example.org/me/link/x".into()),
            channel: channel.into(),
            person: person.clone(),
            campaigns: vec![
                CampaignContext {
                    name: "c".into(),
                    title: "T".into(),
                    description: String::new(),
                    kind: "eol".into(),
                    applications: String::new(),
                    deadline: "2027-01-01".into(),
                    group: None,
                    fallback: false,
                    machines: vec![MachineContext {
                        hostname: "PC1".into(),
                        os: "Windows".into(),
                        cycle: Some("Windows 10 22H2".into()),
                        eol: Some("2025-10-14".into()),
                        application: None,
                        reopened: Some("upgrade by 2026-12-01".into()),
                        last_used: None,
                        passed_on_by: Some("asmith".into()),
                        links: vec![link.clone()],
                    }],
                    all_links: vec![link.clone()],
                },
                CampaignContext {
                    name: "l".into(),
                    title: "L".into(),
                    description: String::new(),
                    kind: "licence".into(),
                    applications: "MATLAB".into(),
                    deadline: "2027-01-01".into(),
                    group: Some("it-desk".into()),
                    fallback: true,
                    machines: vec![MachineContext {
                        hostname: "PC2".into(),
                        os: "Windows".into(),
                        cycle: None,
                        eol: None,
                        application: Some("MATLAB".into()),
                        reopened: None,
                        last_used: Some("2026-01-02".into()),
                        passed_on_by: None,
                        links: vec![link.clone()],
                    }],
                    all_links: vec![link.clone()],
                },
            ],
            machines: 2,
            reminder: false,
            licence_only: false,
            expires: "2027-01-01".into(),
            example: "PC1".into(),
            example_date: "2027-01-01".into(),
        };
        let notice = ExceptionNotice {
            person: person.clone(),
            host: "PC1".into(),
            campaign: "c".into(),
            approved: false,
            until: Some("2027-01-01".into()),
            note: Some("n".into()),
            decided_by: "admin".into(),
        };
        for lang in LANGUAGES {
            self.digest(base, lang, &sample("email"))?;
            for channel in ["matrix", "mattermost"] {
                self.digest(CHAT_DIGEST, lang, &sample(channel))?;
            }
            self.exception_notice(lang, &notice)?;
            for mode in ["confirm", "recorded", "error"] {
                let page = PageContext {
                    mode,
                    title: "t".into(),
                    message: Some("m".into()),
                    campaign: "c".into(),
                    machines: vec!["PC1".into()],
                    answer: AnswerKind::Exception.as_str(),
                    answer_label: answer_label(AnswerKind::Exception, lang),
                    needs_date: true,
                    date_label: date_label(AnswerKind::Exception, lang),
                    date: None,
                    detail: None,
                    comment: None,
                };
                self.page(lang, &page)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn every_template_file_of_the_repository_is_shipped() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("templates/") {
            let name = entry.expect("an entry").file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".j2") && !SHIPPED.iter().any(|(n, _)| *n == name) {
                missing.push(name.to_string());
            }
        }
        assert!(missing.is_empty(), "not in SHIPPED: {missing:?}");
    }

    #[test]
    fn every_shipped_template_renders_in_every_language() {
        Templates::new(None).check("digest").expect("renders");
    }

    #[test]
    fn a_site_file_of_the_same_name_replaces_the_shipped_template() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("digest.en.subject.j2"),
            "Site: {{ campaign.title }}",
        )
        .expect("write");
        let t = Templates::new(Some(dir.path().to_path_buf()));
        let ctx = context! { campaign => context!{ title => "Retire 2012 R2" } };
        assert_eq!(
            t.render("digest.en.subject.j2", &ctx).expect("site"),
            "Site: Retire 2012 R2"
        );
        // Other names still come from the shipped set.
        assert!(t.render("digest.fr.subject.j2", &context! { campaigns => vec![context!{ title => "x" }], machines => 2, reminder => false }).is_ok());
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_the_template() {
        let t = Templates::new(None);
        let e = t
            .render("digest.en.subject.j2", &context! {})
            .expect_err("strict");
        assert!(
            e.to_string().starts_with("template digest.en.subject.j2:"),
            "{e}"
        );
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("x.html.j2"), "{{ v }}").expect("w");
        std::fs::write(dir.path().join("x.txt.j2"), "{{ v }}").expect("w");
        let t = Templates::new(Some(dir.path().to_path_buf()));
        let ctx = context! { v => "<b>&" };
        assert_eq!(t.render("x.html.j2", &ctx).expect("html"), "&lt;b&gt;&amp;");
        assert_eq!(t.render("x.txt.j2", &ctx).expect("txt"), "<b>&");
    }

    #[test]
    fn languages_fall_back_to_english() {
        assert_eq!(language("fr-CH"), "fr");
        assert_eq!(language("de"), "en");
        assert_eq!(language(""), "en");
    }

    #[test]
    fn a_site_digest_naming_a_variable_the_typed_context_lacks_fails_the_check() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("digest.en.subject.j2"),
            "{{ campaigns[0].owner }}",
        )
        .expect("write");
        let e = Templates::new(Some(dir.path().to_path_buf()))
            .check("digest")
            .expect_err("owner is no variable of a campaign");
        assert_eq!(e.name, "digest.en.subject.j2");
        // What the context has is accepted.
        std::fs::write(
            dir.path().join("digest.en.subject.j2"),
            "{{ campaigns[0].title }} for {{ person.name }}",
        )
        .expect("write");
        Templates::new(Some(dir.path().to_path_buf()))
            .check("digest")
            .expect("renders");
    }
}
