-- The satisfaction survey (SKM, PermenPANRB 14/2017): one response per application, once it is completed. Nothing
-- personal: the application's id (one response each), the site and service to group by, the nine scores (U1-U9,
-- 1-4) and the optional suggestion as typed.
CREATE TABLE survey_response (
    application_id  uuid        PRIMARY KEY REFERENCES application(id),
    site_id         text        NOT NULL,
    service_code    text        NOT NULL,
    requirements    smallint    NOT NULL CHECK (requirements BETWEEN 1 AND 4),
    procedure       smallint    NOT NULL CHECK (procedure BETWEEN 1 AND 4),
    completion_time smallint    NOT NULL CHECK (completion_time BETWEEN 1 AND 4),
    cost            smallint    NOT NULL CHECK (cost BETWEEN 1 AND 4),
    product         smallint    NOT NULL CHECK (product BETWEEN 1 AND 4),
    competence      smallint    NOT NULL CHECK (competence BETWEEN 1 AND 4),
    conduct         smallint    NOT NULL CHECK (conduct BETWEEN 1 AND 4),
    complaints      smallint    NOT NULL CHECK (complaints BETWEEN 1 AND 4),
    facilities      smallint    NOT NULL CHECK (facilities BETWEEN 1 AND 4),
    suggestion      text        CHECK (char_length(suggestion) <= 500),
    answered_at     timestamptz NOT NULL DEFAULT now()
);
-- The summary reads a site's responses over a period.
CREATE INDEX survey_response_site_answered ON survey_response (site_id, answered_at);
