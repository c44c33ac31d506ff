-- =============================================================================
-- private.project_role_rank() is unused: policies and helpers compare
-- public.project_role values directly (the enum is ordered viewer < editor <
-- admin < owner).
-- =============================================================================

drop function private.project_role_rank(public.project_role);
