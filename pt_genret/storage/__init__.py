"""The index folder: layout, atomic writes, generations, the writer lock and recovery.

Every writer of an index folder (the indexer, updates, removals, LTRGR and distillation
phases, the Lucene baseline) goes through this package; no other module renames, replaces or
deletes files of an index.
"""
from pt_genret.storage.atomic import atomic_file, link_missing, versions, write_json
from pt_genret.storage.folder import (FOLDER_KEY, META_FILE, check_target, check_writable, cleanup,
                                      describe_target, folder_bytes, generation_folder, publish, read_meta,
                                      recover, recover_folder, replace_folder)
from pt_genret.storage.lock import LOCK_FILE, IndexLockedError, WriteLock
from pt_genret.storage.writer import IndexWriter

__all__ = ["FOLDER_KEY", "LOCK_FILE", "META_FILE", "IndexLockedError", "IndexWriter", "WriteLock", "atomic_file",
           "check_target", "check_writable", "cleanup", "describe_target", "folder_bytes", "generation_folder",
           "link_missing", "publish", "read_meta", "recover", "recover_folder", "replace_folder", "versions",
           "write_json"]
