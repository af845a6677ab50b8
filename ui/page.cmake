# Run by the patchbay_ui_page target on every build (cmake -P): decides at build time, not at
# configure time, which page the binary embeds, so `npm ci` after configuring needs no reconfigure.
#   -DUI_DIR=<ui source dir> -DOUT=<page in the build tree> -DNODE=<node or NODE-NOTFOUND>
# With node and node_modules/esbuild: `node build.mjs --out OUT` when OUT is missing, is the
# placeholder, or is older than any input. Without them: the placeholder page. OUT is rewritten only
# when it changes, so the embedding object is recompiled only then.
set(marker "${OUT}.placeholder")
if(NODE AND EXISTS "${UI_DIR}/node_modules/esbuild/package.json")
  file(GLOB_RECURSE inputs "${UI_DIR}/src/*")
  list(APPEND inputs "${UI_DIR}/build.mjs" "${UI_DIR}/package.json" "${UI_DIR}/package-lock.json"
       "${UI_DIR}/tsconfig.json" "${UI_DIR}/node_modules/esbuild/package.json")
  set(stale FALSE)
  if(EXISTS "${marker}" OR NOT EXISTS "${OUT}")
    set(stale TRUE)
  else()
    foreach(f IN LISTS inputs)
      if("${f}" IS_NEWER_THAN "${OUT}")
        set(stale TRUE)
        break()
      endif()
    endforeach()
  endif()
  if(stale)
    execute_process(COMMAND "${NODE}" build.mjs --out "${OUT}" WORKING_DIRECTORY "${UI_DIR}"
                    RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "ui: `node build.mjs --out ${OUT}` failed (${rc}); the page is not embedded")
    endif()
    file(REMOVE "${marker}")
  endif()
else()
  if(NOT EXISTS "${marker}")
    if(NOT NODE)
      message(STATUS "ui: node not found; embedding the placeholder page (run scripts/setup.sh)")
    else()
      message(STATUS "ui: ui/node_modules missing; embedding the placeholder page (run scripts/setup.sh)")
    endif()
    file(COPY_FILE "${UI_DIR}/placeholder.html" "${OUT}" ONLY_IF_DIFFERENT)
    file(TOUCH "${marker}")
  endif()
endif()
