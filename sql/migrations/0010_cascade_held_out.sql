-- The cascade plan measures its curve held out (cross-validation) and says where each model's
-- confidence came from (see sql/tables/cascade_curves.sql). Rows written before this version
-- measured on the items they were fitted on: their figures are kept as in-sample ones, and
-- measured_on says so.
ALTER TABLE cascade_curves ADD COLUMN measured_on VARCHAR;
ALTER TABLE cascade_curves ADD COLUMN in_sample_error DOUBLE;
ALTER TABLE cascade_curves ADD COLUMN in_sample_cost DOUBLE;
ALTER TABLE cascade_curves ADD COLUMN confidence_sources VARCHAR[];
UPDATE cascade_curves
SET measured_on = 'in sample: the items the curve was fitted on (before schema version 9)',
    in_sample_error = measured_error,
    in_sample_cost = measured_cost;
