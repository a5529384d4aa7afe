-- The platform's one vocabulary (the event field names): stored records written under the former names are
-- renamed in place, so they validate against the current model. agency -> agency_code,
-- central_reason -> central_only_reason, completion.working_days -> completion.completion_days.
UPDATE service_type
SET body = (body - 'agency' - 'central_reason')
    || jsonb_build_object(
        'agency_code', body -> 'agency',
        'central_only_reason', body -> 'central_reason',
        'completion', ((body -> 'completion') - 'working_days')
            || jsonb_build_object('completion_days', body -> 'completion' -> 'working_days')
    )
WHERE body ? 'agency';

UPDATE agency_schedule
SET body = (body - 'agency') || jsonb_build_object('agency_code', body -> 'agency')
WHERE body ? 'agency';
